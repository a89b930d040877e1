"""pytest's entry for the integration tests; the fixtures live in
conftest_shared.py so that tests/adversarial can use them too."""
from conftest_shared import bot  # noqa: F401  (the Bot fixture)
