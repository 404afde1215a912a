"""Light and dark themes: every colour the app uses, in one place."""
from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

CATEGORY_HUES = {  # accent per palette category (node header strip, palette icons)
    "Input": "#2e9e6b", "Core": "#4a78d0", "Convolution": "#8a5cd0", "Pooling": "#5b8fb9",
    "Normalisation": "#c7922b", "Activation": "#d0634a", "Merge": "#3aa0a8",
    "Recurrent": "#b24f8f", "Binary": "#6d7a86", "Loss": "#c94747",
}


@dataclass(frozen=True)
class Theme:
    name: str
    window: str
    base: str            # input fields, lists
    panel: str           # dock backgrounds
    text: str
    muted: str
    border: str
    accent: str
    canvas: str
    grid: str
    node: str
    node_border: str
    node_selected: str
    edge: str
    edge_label_bg: str
    port: str
    port_ok: str         # compatible port while dragging a link
    error: str
    categories: dict = field(default_factory=lambda: dict(CATEGORY_HUES))

    def color(self, name: str) -> QColor:
        return QColor(getattr(self, name))

    def category(self, category: str) -> QColor:
        return QColor(self.categories.get(category, self.accent))


LIGHT = Theme("light", window="#f3f4f6", base="#ffffff", panel="#f7f8fa", text="#1f2328",
              muted="#6a737d", border="#d6d9de", accent="#2f6fde", canvas="#fbfbfc", grid="#eceef1",
              node="#ffffff", node_border="#c4c9d0", node_selected="#2f6fde", edge="#8c95a1",
              edge_label_bg="#fbfbfc", port="#9aa3ad", port_ok="#22a06b", error="#d93b3b")
DARK = Theme("dark", window="#1e2126", base="#16181c", panel="#23272d", text="#e3e6ea",
             muted="#9099a3", border="#3a3f47", accent="#5b9bff", canvas="#191b1f", grid="#22252a",
             node="#2a2e35", node_border="#454b55", node_selected="#5b9bff", edge="#77818d",
             edge_label_bg="#191b1f", port="#7d8793", port_ok="#3ccf8e", error="#ff6b6b")
THEMES = {"light": LIGHT, "dark": DARK}


_BASE_POINT_SIZE: list[float] = []  # the platform's font size, read once


def ui_font() -> QFont:
    f = QApplication.font()
    return f


_ARROW = ('<svg xmlns="http://www.w3.org/2000/svg" width="9" height="6" viewBox="0 0 9 6">'
          '<path d="{d}" fill="{fill}"/></svg>')


_CHECK = ('<svg xmlns="http://www.w3.org/2000/svg" width="12" height="12" viewBox="0 0 12 12">'
          '<path d="M2 6.5 L5 9.5 L10 3" fill="none" stroke="#ffffff" stroke-width="2"/></svg>')


def arrow_images(t: Theme) -> dict[str, str]:
    """Paths of the spin-box and combo-box arrows in the theme's colours. Style sheets take
    pictures only from files, and once a sheet styles the box Fusion draws no arrows."""
    from .settings_store import data_dir
    folder = data_dir() / "style"
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for key, d, colour in (("up", "M0 6 L4.5 0 L9 6 Z", t.text), ("down", "M0 0 L4.5 6 L9 0 Z", t.text),
                           ("up_off", "M0 6 L4.5 0 L9 6 Z", t.border), ("down_off", "M0 0 L4.5 6 L9 0 Z", t.border)):
        path = folder / f"arrow-{key}-{colour.lstrip('#')}.svg"
        if not path.is_file():
            path.write_text(_ARROW.format(d=d, fill=colour), encoding="utf-8")
        out[key] = path.as_posix()
    check = folder / "check-white.svg"
    if not check.is_file():
        check.write_text(_CHECK, encoding="utf-8")
    out["check"] = check.as_posix()
    return out


def qss(t: Theme, scale: float = 1.0) -> str:
    px = lambda n: f"{round(n * scale)}px"  # noqa: E731
    arrows = arrow_images(t)
    return f"""
QMainWindow, QDialog {{ background: {t.window}; }}
QWidget {{ color: {t.text}; }}
QWidget:disabled {{ color: {t.muted}; }}
QToolBar {{ background: {t.window}; border: none; border-bottom: 1px solid {t.border}; spacing: 4px; padding: 3px; }}
QToolButton {{ padding: 4px 8px; border-radius: 4px; border: 1px solid transparent; }}
QToolButton:hover {{ background: {t.border}; }}
QToolButton:disabled {{ color: {t.muted}; background: transparent; }}
QToolButton:checked {{ background: {t.panel}; border-color: {t.border}; }}
QToolButton#trainButton {{ background: {t.accent}; color: white; font-weight: 600; padding: 4px 14px; }}
QToolButton#trainButton:disabled {{ background: {t.border}; color: {t.muted}; }}
QToolButton#workspaceButton {{ padding: 4px 14px; border: 1px solid {t.border}; border-radius: 0px; }}
QToolButton#workspaceButton:checked {{ background: {t.accent}; color: white; border-color: {t.accent}; }}
QToolButton#liveButton:checked {{ background: transparent; border-color: {t.error}; color: {t.error}; font-weight: 600; }}
QPushButton {{ background: {t.base}; border: 1px solid {t.border}; border-radius: 4px; padding: 4px 10px; }}
QPushButton:hover {{ border-color: {t.accent}; }}
QPushButton:disabled {{ background: {t.window}; color: {t.muted}; border-color: {t.border}; }}
QStatusBar {{ background: {t.window}; border-top: 1px solid {t.border}; color: {t.muted}; }}
QLineEdit, QSpinBox, QDoubleSpinBox, QComboBox, QPlainTextEdit {{
    background: {t.base}; border: 1px solid {t.border}; border-radius: 4px; padding: 3px 5px; }}
QLineEdit:disabled, QSpinBox:disabled, QDoubleSpinBox:disabled, QComboBox:disabled {{
    background: {t.window}; color: {t.muted}; }}
QSpinBox, QDoubleSpinBox {{ padding-right: {px(18)}; }}
QSpinBox::up-button, QDoubleSpinBox::up-button, QSpinBox::down-button, QDoubleSpinBox::down-button {{
    subcontrol-origin: border; width: {px(16)}; border-left: 1px solid {t.border}; background: {t.panel}; }}
QSpinBox::up-button, QDoubleSpinBox::up-button {{ subcontrol-position: top right; border-top-right-radius: 4px; }}
QSpinBox::down-button, QDoubleSpinBox::down-button {{ subcontrol-position: bottom right; border-bottom-right-radius: 4px; }}
QSpinBox::up-button:hover, QDoubleSpinBox::up-button:hover, QSpinBox::down-button:hover,
QDoubleSpinBox::down-button:hover {{ background: {t.border}; }}
QSpinBox::up-arrow, QDoubleSpinBox::up-arrow {{ image: url({arrows["up"]}); width: {px(9)}; height: {px(6)}; }}
QSpinBox::down-arrow, QDoubleSpinBox::down-arrow, QComboBox::down-arrow {{ image: url({arrows["down"]});
    width: {px(9)}; height: {px(6)}; }}
QSpinBox::up-arrow:disabled, QDoubleSpinBox::up-arrow:disabled, QSpinBox::up-arrow:off,
QDoubleSpinBox::up-arrow:off {{ image: url({arrows["up_off"]}); }}
QSpinBox::down-arrow:disabled, QDoubleSpinBox::down-arrow:disabled, QSpinBox::down-arrow:off,
QDoubleSpinBox::down-arrow:off, QComboBox::down-arrow:disabled {{ image: url({arrows["down_off"]}); }}
QComboBox::drop-down {{ border: none; width: {px(18)}; }}
QComboBox QAbstractItemView {{ background: {t.base}; selection-background-color: {t.accent}; }}
QLineEdit:focus, QSpinBox:focus, QDoubleSpinBox:focus, QComboBox:focus {{ border-color: {t.accent}; }}
QLineEdit[invalid="true"], QSpinBox[invalid="true"], QComboBox[invalid="true"] {{ border-color: {t.error}; }}
QCheckBox::indicator {{ width: {px(13)}; height: {px(13)}; border: 1px solid {t.border}; border-radius: 3px;
    background: {t.base}; }}
QCheckBox::indicator:checked {{ background: {t.accent}; border-color: {t.accent}; image: url({arrows["check"]}); }}
QCheckBox::indicator:disabled {{ background: {t.window}; }}
QTreeWidget, QListWidget, QTableView {{ background: {t.base}; border: 1px solid {t.border}; border-radius: 4px; }}
QTreeWidget::item, QListWidget::item {{ padding: 3px 2px; }}
QTreeWidget::item:selected, QListWidget::item:selected {{ background: {t.accent}; color: white; }}
QHeaderView::section {{ background: {t.panel}; color: {t.text}; border: none; border-bottom: 1px solid {t.border};
    padding: 3px 6px; }}
QTabWidget::pane {{ border: none; background: {t.panel}; }}
QTabBar::tab {{ background: {t.window}; color: {t.muted}; padding: 5px 7px; border: none;
    border-bottom: 2px solid transparent; }}
QTabBar::tab:selected {{ color: {t.text}; border-bottom-color: {t.accent}; }}
QTabBar::tab:hover {{ color: {t.text}; }}
QSplitter::handle {{ background: {t.border}; }}
QSplitter::handle:horizontal {{ width: 3px; }}
QSplitter::handle:vertical {{ height: 3px; }}
QWidget#viewPane {{ background: {t.base}; }}
QProgressBar {{ background: {t.base}; border: 1px solid {t.border}; border-radius: 4px; text-align: center;
    color: {t.text}; }}
QProgressBar::chunk {{ background: {t.accent}; border-radius: 3px; }}
QLabel#heading {{ font-size: {px(14)}; font-weight: 600; }}
QLabel#muted {{ color: {t.muted}; }}
QLabel#hint {{ color: {t.muted}; font-size: {px(13)}; }}
QLabel#error {{ color: {t.error}; }}
QLabel#facts {{ background: {t.base}; border: 1px solid {t.border}; border-radius: 4px; padding: 6px; }}
QMenu {{ background: {t.base}; border: 1px solid {t.border}; }}
QMenu::item {{ padding: 4px 20px 4px 20px; }}
QMenu::item:selected {{ background: {t.accent}; color: white; }}
QMenu::item:disabled {{ color: {t.muted}; }}
QScrollArea {{ border: none; }}
QToolTip {{ background: {t.base}; color: {t.text}; border: 1px solid {t.border}; }}
"""


def apply_theme(app: QApplication, t: Theme, scale: float = 1.0) -> None:
    """Colours (and, for presentation mode, a font ``scale``) for every widget; plots made
    from now on follow pg's options, plots already made are restyled by views.restyle."""
    app.setStyle("Fusion")
    if not _BASE_POINT_SIZE:
        _BASE_POINT_SIZE.append(app.font().pointSizeF() if app.font().pointSizeF() > 0 else 9.0)
    font = QFont(app.font())
    font.setPointSizeF(_BASE_POINT_SIZE[0] * scale)
    app.setFont(font)
    pal = QPalette()
    for role, colour in ((QPalette.Window, t.window), (QPalette.Base, t.base), (QPalette.AlternateBase, t.panel),
                         (QPalette.Text, t.text), (QPalette.WindowText, t.text), (QPalette.ButtonText, t.text),
                         (QPalette.Button, t.panel), (QPalette.Highlight, t.accent),
                         (QPalette.HighlightedText, "#ffffff"), (QPalette.ToolTipBase, t.base),
                         (QPalette.ToolTipText, t.text), (QPalette.PlaceholderText, t.muted)):
        pal.setColor(role, QColor(colour))
    for role in (QPalette.Text, QPalette.ButtonText, QPalette.WindowText):
        pal.setColor(QPalette.Disabled, role, QColor(t.muted))
    app.setPalette(pal)
    app.setStyleSheet(qss(t, scale))
    import pyqtgraph as pg  # plots follow the theme (set before the views make their plots)
    pg.setConfigOptions(background=t.base, foreground=t.text, antialias=True)
