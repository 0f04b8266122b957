"""Small projects for engine tests: fast Terraform modules (Secrets Manager, terraform_data)."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import write

VERSIONS = """
terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}
"""

# A unit that creates one Secrets Manager secret (fast on moto) and returns a secret value.
TOKEN_MODULE = {
    "versions.tf": VERSIONS,
    "main.tf": """
variable "name" { type = string }
variable "upstream" {
  type    = string
  default = ""
}
resource "aws_secretsmanager_secret" "this" {
  name                    = var.name
  recovery_window_in_days = 0
}
output "arn" { value = aws_secretsmanager_secret.this.arn }
output "echo" { value = var.upstream }
output "token" {
  value     = sha256("token-${var.name}")
  sensitive = true
}
""",
}

# Fails at plan with the provider's own validation error.
BROKEN_MODULE = {
    "versions.tf": VERSIONS,
    "main.tf": """
resource "aws_s3_bucket" "bad" {
  bucket = "Not_A_Valid_Bucket_Name!"
}
output "arn" { value = aws_s3_bucket.bad.arn }
""",
}

ENV = """
apiVersion: composer.dev/v1alpha1
kind: Environment
metadata: {name: test}
spec:
  cloud: {provider: aws, region: us-east-1}
  kubernetes: {directory: deploy, namespace: t, secretStore: {name: aws-secrets}}
"""


def cluster_env(namespace: str) -> str:
    """ENV delivering workloads to the Kubernetes API stand-in (context `standin`) instead of a directory."""
    return ENV.replace(
        "kubernetes: {directory: deploy, namespace: t, secretStore: {name: aws-secrets}}",
        f"kubernetes: {{context: standin, namespace: {namespace}}}",
    )


def token_component(name: str, upstream: str = "", deps: str = "") -> str:
    inputs = f"{{name: {name}-token" + (f", upstream: '{upstream}'" if upstream else "") + "}"
    extra = f", dependsOn: [{deps}]" if deps else ""
    return (
        f"    - {{name: {name}, type: terraform-module, properties: {{source: modules/token, inputs: {inputs}, "
        f"outputs: {{arn: {{}}, echo: {{}}, token: {{secret: true}}}}}}{extra}}}\n"
    )


def make_project(root: Path, components: str, env: str = ENV, app: str = "eng") -> Path:
    files = {
        "app.yaml": f"apiVersion: composer.dev/v1alpha1\nkind: Application\nmetadata: {{name: {app}}}\nspec:\n  components:\n{components}",
        "environments/test.yaml": env,
    }
    files.update({f"modules/token/{k}": v for k, v in TOKEN_MODULE.items()})
    files.update({f"modules/broken/{k}": v for k, v in BROKEN_MODULE.items()})
    write(root, files)
    return root / "app.yaml"


# A definition with a generated input (a password appc makes once and keeps in the secret store).
ENTRY_DEFINITION = """
apiVersion: composer.dev/v1alpha1
kind: ComponentDefinition
metadata: {name: vault-entry}
spec:
  category: resource
  parameters:
    type: object
    additionalProperties: false
    properties:
      rev: {type: integer, default: 1}
  outputs:
    name: {}
    password: {secret: true}
  implementations:
    aws-generated:
      provider: aws
      default: true
      terraform:
        module: modules/entry
        secrets: store
        generated_inputs: [password]
        inputs: {name: "{{ name }}", rev: "{{ parameters.rev }}"}
"""

# Writes the generated password only through a write-only argument, as the gcp/azure database
# modules do; the document is rewritten whenever `rev` changes.
ENTRY_MODULE = """
terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

variable "name" {
  type = string
}

variable "rev" {
  type = number
}

variable "password" {
  type      = string
  sensitive = true
  ephemeral = true
}

resource "aws_secretsmanager_secret" "this" {
  name                    = var.name
  recovery_window_in_days = 0
}

resource "aws_secretsmanager_secret_version" "this" {
  secret_id                = aws_secretsmanager_secret.this.id
  secret_string_wo         = jsonencode({ name = var.name, password = var.password })
  secret_string_wo_version = var.rev
}

output "name" {
  value = var.name
}

output "connection_secret_id" {
  value      = aws_secretsmanager_secret.this.arn
  depends_on = [aws_secretsmanager_secret_version.this]
}
"""
