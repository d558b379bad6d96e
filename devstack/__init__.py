"""The local stack: the whole application on one machine, driven by template.yaml."""
