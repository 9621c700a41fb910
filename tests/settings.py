"""The suite runs the real settings in demo mode (generated secret key, console e-mail)."""

import os

os.environ.setdefault("NEPHRO_DEMO", "true")

from nephro.settings import *  # noqa: E402,F403

# Argon2 at full cost would dominate the suite's run time; the production hasher list is
# tested on its own in test_accounts.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]  # noqa: F405

# Tests run background jobs at once instead of waiting for a series to settle.
NEPHRO_ANALYSIS_SETTLE_SECONDS = 0
