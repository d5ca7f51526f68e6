"""phishtrace: where did each phishing-simulation email stop, and why."""

from phishtrace.errors import InputError, PhishtraceError
from phishtrace.workspace import Workspace

__version__ = "0.1.0"
__all__ = ["Workspace", "InputError", "PhishtraceError", "__version__"]
