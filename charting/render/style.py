"""The look of every chart, passed to each artist explicitly (never through
matplotlib's global `rcParams`)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Style:
    """Colours chosen for dark chat themes (Slack, Telegram, Discord night
    modes): a near-black background of its own so the chart never blends into
    the page, and saturated up/down colours with contrast above 4.5:1."""

    background: str = "#131722"
    grid: str = "#262b38"
    spine: str = "#363c4e"
    text: str = "#d1d4dc"
    muted: str = "#8b92a3"
    up: str = "#26a69a"
    down: str = "#ef5350"
    entry: str = "#4da3ff"
    stop: str = "#ff6b6b"
    target: str = "#3ddc97"
    equity: str = "#4da3ff"
    balance: str = "#8b92a3"
    label_text: str = "#0b0e14"
    font_family: str = "DejaVu Sans"
    font_size: float = 9.0


STYLE = Style()
