"""The Lessons panel opens each lesson's templates with its views in front and its node
selected, and shows the lesson's text."""
from engine.lessons import list_lessons, load_lesson
from visualizer.window_run import view_key
from visualizer.views.registry import VIEWS


def test_every_lesson_is_listed_with_its_text(window, qtbot):
    panel = window.lessons
    assert panel.lesson_ids() == [lesson.id for lesson in list_lessons()]
    panel.show_lesson("lstm_counts")
    text = panel.text.toPlainText()
    assert text.strip() and "LSTM" in text
    assert panel.button_row.count() == len(load_lesson("lstm_counts").documents)


def test_opening_a_lesson_template_shows_its_views_and_selects_its_node(window, qtbot):
    lesson = load_lesson("vanishing_gradients")
    slug = list(lesson.documents)[0]
    window.lessons.show_lesson(lesson.id)
    window.lessons.button_row.itemAt(0).widget().click()
    opened, expected = window.model.doc.to_dict(), lesson.documents[slug].to_dict()
    for d in (opened, expected):  # the canvas lays out a template saved without positions
        for n in d["nodes"]:
            n.pop("pos")
    assert opened == expected
    assert window.scene.selected_node_ids() == [lesson.select]
    first = {cls.title: view_key(cls) for cls in VIEWS}[lesson.views[0]]
    assert window.state.workspace == "watch"
    [pane] = [p for p in window.grid.panes if p.title == lesson.views[0]]
    assert pane.isVisible() and not pane.visibleRegion().isEmpty()
    assert "press Train" in pane.hint.text() and pane.hint.isVisible()  # no run yet: it says what to do
    # the views follow the selected node
    assert window.views[first].node_id == lesson.select
