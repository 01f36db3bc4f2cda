"""The live window's hotkeys and the state they change."""
from __future__ import annotations

from dataclasses import dataclass

STRENGTH_STEP = 0.1
BLEND_SHARES = (1.0, 0.75, 0.5, 0.25)  # the current style's share of a blend, as 'm' steps it
HOTKEYS = (
    ("n / p", "next / previous style"),
    ("m", "blend: the current painting at 100/75/50/25% with the others (--style paintings)"),
    ("+ / -", "strength up / down"),
    ("c", "original colours on/off"),
    ("o", "side-by-side with the original on/off"),
    ("space", "snapshot to a PNG file"),
    ("r", "start / stop recording"),
    ("h", "show / hide this help"),
    ("q / Esc", "quit"),
)


def hotkey_help() -> str:
    return "\n".join(f"  {keys:<8} {what}" for keys, what in HOTKEYS)


@dataclass
class LiveState:
    """What the hotkeys change."""

    model_index: int = 0
    strength: float = 1.0
    original_colors: bool = False
    show_original: bool = False
    show_help: bool = False
    quit: bool = False
    snapshot: bool = False
    toggle_recording: bool = False
    blend_step: int = 0  # index into BLEND_SHARES
    mix: list[float] | None = None  # explicit blend weights of every style (--mix), until n/p/m is pressed

    def weights(self, count: int) -> list[float]:
        """The blend weight of each of ``count`` styles: --mix's as given, else the current style's
        share and the rest split evenly among the others."""
        if self.mix is not None:
            return self.mix
        share = BLEND_SHARES[self.blend_step] if count > 1 else 1.0
        rest = (1.0 - share) / (count - 1) if count > 1 else 0.0
        return [share if i == self.model_index else rest for i in range(count)]

    def handle_key(self, key: int, model_count: int) -> None:
        """Apply one key press (an OpenCV key code)."""
        char = chr(key) if 0 <= key < 256 else ""
        if char in ("q", "\x1b"):
            self.quit = True
        elif char == "n":
            self.model_index, self.mix = (self.model_index + 1) % model_count, None
        elif char == "p":
            self.model_index, self.mix = (self.model_index - 1) % model_count, None
        elif char == "m":
            self.blend_step, self.mix = (self.blend_step + 1) % len(BLEND_SHARES), None
        elif char in ("+", "="):
            self.strength = min(1.0, round(self.strength + STRENGTH_STEP, 2))
        elif char in ("-", "_"):
            self.strength = max(0.0, round(self.strength - STRENGTH_STEP, 2))
        elif char == "c":
            self.original_colors = not self.original_colors
        elif char == "o":
            self.show_original = not self.show_original
        elif char == "h":
            self.show_help = not self.show_help
        elif char == " ":
            self.snapshot = True
        elif char == "r":
            self.toggle_recording = True
