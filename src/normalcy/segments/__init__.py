"""Fixed-length signal segments (EEG epochs, vibration snapshots) as a normalcy data type.

Each segment is one item scored as a whole. See ``normalcy.segments.input`` for the input
forms and docs/eeg.md for why this is not the series modality.
"""
