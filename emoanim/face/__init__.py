"""Faces on camera: MediaPipe face tracking to ARKit curves (performance capture, an emotion source)."""
