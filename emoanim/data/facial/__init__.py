"""Rule-based emotional facial motion for the synthetic corpus: speech + emotion -> ARKit-52 + head.

``synthesize_motion`` is the entry point; ``prosody_features`` (RMS loudness, f0, voicing per
video frame) is shared with other data code.
"""

from emoanim.data.facial.synthesis import synthesize_motion
from emoanim.data.facial.prosody import prosody_features

__all__ = ["prosody_features", "synthesize_motion"]
