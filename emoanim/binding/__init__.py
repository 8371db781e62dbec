"""The emotion space (paper Sec. III-A): motion, audio, text and label encoders bound by InfoNCE onto one
unit sphere of emotion vectors (``space.EmotionSpace``)."""
