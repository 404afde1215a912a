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


def ui_font() -> QFont:
    f = QApplication.font()
    return f


def qss(t: Theme) -> str:
    return f"""
QMainWindow, QDialog {{ background: {t.window}; }}
QWidget {{ color: {t.text}; }}
QDockWidget {{ titlebar-close-icon: none; }}
QDockWidget::title {{ background: {t.window}; padding: 6px 8px; font-weight: 600; }}
QDockWidget > QWidget {{ background: {t.panel}; }}
QToolBar {{ background: {t.window}; border: none; border-bottom: 1px solid {t.border}; spacing: 4px; padding: 3px; }}
QToolButton {{ padding: 4px 8px; border-radius: 4px; }}
QToolButton:hover {{ background: {t.border}; }}
QToolButton#trainButton {{ background: {t.accent}; color: white; font-weight: 600; padding: 4px 14px; }}
QToolButton#trainButton:disabled {{ background: {t.border}; color: {t.muted}; }}
QStatusBar {{ background: {t.window}; border-top: 1px solid {t.border}; color: {t.muted}; }}
QLineEdit, QSpinBox, QDoubleSpinBox, QComboBox, QPlainTextEdit {{
    background: {t.base}; border: 1px solid {t.border}; border-radius: 4px; padding: 3px 5px; }}
QLineEdit:focus, QSpinBox:focus, QComboBox:focus {{ border-color: {t.accent}; }}
QLineEdit[invalid="true"], QSpinBox[invalid="true"], QComboBox[invalid="true"] {{ border-color: {t.error}; }}
QTreeWidget, QListWidget {{ background: {t.base}; border: 1px solid {t.border}; border-radius: 4px; }}
QTreeWidget::item, QListWidget::item {{ padding: 3px 2px; }}
QTreeWidget::item:selected, QListWidget::item:selected {{ background: {t.accent}; color: white; }}
QLabel#heading {{ font-size: 14px; font-weight: 600; }}
QLabel#muted {{ color: {t.muted}; }}
QLabel#error {{ color: {t.error}; }}
QLabel#facts {{ background: {t.base}; border: 1px solid {t.border}; border-radius: 4px; padding: 6px; }}
QMenu {{ background: {t.base}; border: 1px solid {t.border}; }}
QMenu::item:selected {{ background: {t.accent}; color: white; }}
QScrollArea {{ border: none; }}
"""


def apply_theme(app: QApplication, t: Theme) -> None:
    app.setStyle("Fusion")
    pal = QPalette()
    for role, colour in ((QPalette.Window, t.window), (QPalette.Base, t.base), (QPalette.AlternateBase, t.panel),
                         (QPalette.Text, t.text), (QPalette.WindowText, t.text), (QPalette.ButtonText, t.text),
                         (QPalette.Button, t.panel), (QPalette.Highlight, t.accent),
                         (QPalette.HighlightedText, "#ffffff"), (QPalette.ToolTipBase, t.base),
                         (QPalette.ToolTipText, t.text), (QPalette.PlaceholderText, t.muted)):
        pal.setColor(role, QColor(colour))
    pal.setColor(QPalette.Disabled, QPalette.Text, QColor(t.muted))
    pal.setColor(QPalette.Disabled, QPalette.ButtonText, QColor(t.muted))
    app.setPalette(pal)
    app.setStyleSheet(qss(t))
    import pyqtgraph as pg  # plots follow the theme (set before the views make their plots)
    pg.setConfigOptions(background=t.base, foreground=t.text, antialias=True)
