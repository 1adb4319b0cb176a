"""synsec: behaviour-based intrusion detection (CrowdSec's grammar, stream-processing runtime)."""

__all__ = ["__version__"]
__version__ = "0.1.0"
