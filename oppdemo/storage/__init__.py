"""The storage tooling: open the project's storage, check it, migrate it."""
