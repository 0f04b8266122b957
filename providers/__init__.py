"""Provider plugins shipped with Composer."""
