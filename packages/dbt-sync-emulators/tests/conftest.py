"""The emulators' tests run with the repository's test command; in CI a skipped test fails the run."""

pytest_plugins = ["tests.fixtures.ci"]
