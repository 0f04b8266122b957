"""The counting rule of scripts/kubevela_coverage.py that tells a case written for a definition of
its own that reuses a vela-core name (docs/oam.md, "Coverage, and how it is counted", rule 6)."""

from __future__ import annotations

import importlib.util
import sys

from tests.helpers import ROOT

_spec = importlib.util.spec_from_file_location("kubevela_coverage", ROOT / "scripts" / "kubevela_coverage.py")
assert _spec and _spec.loader
coverage = importlib.util.module_from_spec(_spec)
sys.modules["kubevela_coverage"] = coverage
_spec.loader.exec_module(coverage)

EXPOSE = """
template: {
	outputs: service: {spec: {selector: "x"}}
	parameter: {
		// +usage=Specify the exposion ports {
		port: [...int]
		"annotations"?: [string]: string
		type: *"ClusterIP" | "NodePort"
	}
}
"""


def test_a_closed_parameter_lists_its_top_level_fields_only():
    assert coverage.parameter_keys(EXPOSE) == {"port", "annotations", "type"}


def test_an_open_parameter_judges_nothing():
    assert coverage.parameter_keys("parameter: {\n\tname: string\n\t...\n}\n") is None
    assert coverage.parameter_keys("parameter: {\n\t[string]: string\n}\n") is None
    assert coverage.parameter_keys("parameter: #Params | close({\n\tname: string\n})\n") is None


def test_a_case_naming_a_field_the_vela_core_trait_lacks_is_foreign():
    params = {("trait", "expose"): {"port", "type"}, ("component", "webservice"): None}
    app = {
        "spec": {
            "components": [
                {
                    "type": "webservice",
                    "properties": {"anything": 1},
                    "traits": [{"type": "expose", "properties": {"http": {"a": 80}, "port": [80]}}],
                }
            ],
            "policies": [{"type": "garbage-collect", "properties": {"order": "dependency"}}],
        }
    }
    assert coverage.foreign_fields(app, params) == ["trait expose: http"]
