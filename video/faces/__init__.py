"""Faces: detect, encode, match against the watch list, cluster unknown people.

Built on face_recognition (dlib's HOG detector and ResNet encoder), which runs offline once
installed. `engine.face_api()` is the one place that imports it, with a clear error when the
install is broken.
"""
