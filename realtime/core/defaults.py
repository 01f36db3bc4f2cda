"""What each verb paints at unless ``--paint-size`` says otherwise, shared by the CLI and the reports; kept free
of heavy imports so that ``stylize --help`` stays quick.

The live verbs (webcam, video, demo, bench) paint every frame at 640x480's pixel count: HD costs what
640x480 does, and a small face is not swamped by strokes. ``image`` paints every pixel as it is, so a
picture's strokes are the model's own, at the scale it learned them (docs/picture_size.md has the measurement).
"""
LIVE_PAINT_SIZE = "640x480"
IMAGE_PAINT_SIZE = "full"
