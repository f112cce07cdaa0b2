"""Image analysis for the camera agent: frame sources, seat features, people detectors.

Everything here is pure (arrays in, values out) except `source.OpenCVSource`, the only piece
that touches a camera or a stream.
"""
