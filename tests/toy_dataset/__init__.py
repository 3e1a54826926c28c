"""A toy benchmark kept outside the package, registered by tests/test_dataset_plugin.py."""
