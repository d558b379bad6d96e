"""What stops a deployment: a message for the person who ran it, not a traceback."""


class DeployError(Exception):
    """The deployment cannot go on; the message says why and, where it can, what to do."""
