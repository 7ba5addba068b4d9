"""The Lint dock: every caption problem in the dataset, grouped by rule with counts.

Click (or Enter on) a problem to jump to its image in the grid and select the span in the
editor; "Fix all" on a group applies every fix of that rule as ONE undo step. "Only these
images" narrows the grid to the images of the selected group.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QDockWidget,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from curation.captions.issues import LintIssue
from desktop.panels.captions.common import SEVERITY_COLOURS, severity_icon
from desktop.panels.captions.lint_highlighter import short_message

log = logging.getLogger(__name__)

MAX_ROWS = 500  # problem rows shown per group
RuleRole = int(Qt.ItemDataRole.UserRole) + 1
MarkRole = int(Qt.ItemDataRole.UserRole) + 2


class LintPanel(QWidget):
    """The dock's contents; needs a ``CaptionsController``."""

    fixed_all = Signal(str, int)  # rule, captions changed
    title_changed = Signal(str)  # "Lint (12)" for the dock's title / tab

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lintPanel")
        self.controller = controller
        self.descriptions = {}
        self.summary = QLabel("Open a folder to lint its captions")
        self.summary.setObjectName("lintSummary")
        self.summary.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setObjectName("lintTree")
        self.tree.setColumnCount(2)
        self.tree.setHeaderHidden(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(False)
        self.tree.setRootIsDecorated(True)
        self.tree.header().setStretchLastSection(False)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.setStyleSheet(
            "QTreeWidget#lintTree { background: #171a1f; border: 1px solid #2a2f37;"
            " border-radius: 6px; }"
            "QTreeWidget#lintTree::item { padding: 3px 2px; }"
            "QTreeWidget#lintTree::item:selected { background: #2b4270; }"
        )
        self.only = QCheckBox("Show only the selected rule's images")
        self.only.setToolTip("Show only the images of the selected rule in the grid")
        self.fix_btn = QPushButton("Fix")
        self.fix_btn.setToolTip("Apply the fix of the selected problem")
        self.fix_all_btn = QPushButton("Fix all")
        self.fix_all_btn.setObjectName("primaryButton")
        self.fix_all_btn.setToolTip("Apply every fix of the selected rule (one undo step)")
        self.fix_all_btn.setMinimumWidth(
            self.fix_all_btn.fontMetrics().horizontalAdvance("Fix all (000)") + 48
        )
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.fix_btn)
        row.addWidget(self.fix_all_btn)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 6, 8, 8)
        lay.setSpacing(6)
        lay.addWidget(self.summary)
        lay.addWidget(self.only)
        lay.addWidget(self.tree, 1)
        lay.addLayout(row)
        self._groups: dict[str, list[LintIssue]] = {}
        self.tree.itemExpanded.connect(self._fill_group)
        self.tree.itemActivated.connect(self._activate)
        self.tree.itemClicked.connect(self._activate)
        self.tree.currentItemChanged.connect(self._update_buttons)
        self.fix_btn.clicked.connect(self.fix_selected)
        self.fix_all_btn.clicked.connect(lambda: self.fix_all(self.current_rule()))
        self.only.toggled.connect(self._apply_grid_filter)
        controller.report_changed.connect(self.show_report)
        self._update_buttons()

    # -- content -----------------------------------------------------------------------------
    def show_report(self, report) -> None:
        if not self.descriptions:
            from curation.captions.lint import rules

            self.descriptions = {k: v.description for k, v in rules().items()}
        expanded = {
            self.tree.topLevelItem(i).data(0, RuleRole)
            for i in range(self.tree.topLevelItemCount())
            if self.tree.topLevelItem(i).isExpanded()
        }
        current = self.current_rule()
        groups: dict[str, list[LintIssue]] = defaultdict(list)
        for mark in report.all_issues():
            groups[mark.rule].append(mark)
        self._groups = {}
        self.tree.setUpdatesEnabled(False)
        self.tree.clear()
        bold = QFont(self.tree.font())
        bold.setBold(True)
        order = sorted(groups, key=lambda r: (min(m.rank for m in groups[r]), -len(groups[r]), r))
        for rule in order:
            marks = sorted(groups[rule], key=lambda m: (m.rel, m.start))
            sev = min(marks, key=lambda m: m.rank).severity
            images = len({m.rel for m in marks if m.rel})
            top = QTreeWidgetItem([rule, str(len(marks))])
            top.setIcon(0, severity_icon(sev))
            top.setFont(0, bold)
            top.setData(0, RuleRole, rule)
            fixable = sum(1 for m in marks if m.fix is not None)
            desc = self.descriptions.get(rule, "")
            top.setToolTip(
                0,
                f"{rule}: {desc}\n{len(marks)} problems in {images} images"
                f"{f', {fixable} fixable' if fixable else ''}",
            )
            top.setForeground(1, QColor(SEVERITY_COLOURS.get(sev, "#cfd5de")))
            top.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self._groups[rule] = marks
            # children are made when a group is opened: 10,000 rows would stall every re-lint
            top.setChildIndicatorPolicy(QTreeWidgetItem.ChildIndicatorPolicy.ShowIndicator)
            self.tree.addTopLevelItem(top)
            if rule in expanded:
                self._fill_group(top)
                top.setExpanded(True)
            if rule == current:
                self.tree.setCurrentItem(top)
        self.tree.setUpdatesEnabled(True)
        total = sum(len(v) for v in groups.values())
        self.title_changed.emit(f"Lint ({total})" if total else "Lint")
        self._update_summary(report, groups)
        self._update_buttons()
        self._apply_grid_filter()

    def _fill_group(self, top: QTreeWidgetItem) -> None:
        """Create a group's problem rows (once, when it is first opened)."""
        if top.childCount():
            return
        rule = top.data(0, RuleRole)
        marks = self._groups.get(rule, [])
        children = []
        for m in marks[:MAX_ROWS]:
            child = QTreeWidgetItem(
                [short_message(m.message), m.rel.rpartition("/")[2] or "dataset"]
            )
            child.setData(0, RuleRole, rule)
            child.setData(0, MarkRole, m)
            child.setToolTip(0, m.message + (f"\nFix: {m.fix.title}" if m.fix else ""))
            child.setToolTip(1, m.rel or "the whole dataset")
            child.setForeground(1, QColor("#8b93a0"))
            children.append(child)
        if len(marks) > MAX_ROWS:
            more = QTreeWidgetItem([f"… {len(marks) - MAX_ROWS} more (Fix all covers them)", ""])
            more.setData(0, RuleRole, rule)
            more.setForeground(0, QColor("#8b93a0"))
            children.append(more)
        top.addChildren(children)

    def _update_summary(self, report, groups) -> None:
        counts = {"error": 0, "warning": 0, "info": 0}
        for marks in groups.values():
            for m in marks:
                counts[m.severity] = counts.get(m.severity, 0) + 1
        images = len([rel for rel, marks in report.by_rel.items() if marks])
        total = len(report.by_rel)
        if not self.controller.session.is_open:
            self.summary.setText("Open a folder to lint its captions")
        elif not groups:
            self.summary.setText(
                f"<span style='color:#6fcf97'>✓ No problems in {total} captions</span>"
            )
        else:
            parts = [
                f"<span style='color:{SEVERITY_COLOURS[k]}'>{v} {k}{'s' if v != 1 else ''}</span>"
                for k, v in counts.items()
                if v
            ]
            trigger = self.controller.settings.trigger or "<i>no trigger set</i>"
            self.summary.setText(
                f"{' · '.join(parts)} in {images} of {total} images"
                f"<br><span style='color:#8b93a0'>Trigger: {trigger}</span>"
            )

    # -- selection -----------------------------------------------------------------------------
    def current_rule(self) -> str:
        item = self.tree.currentItem()
        return str(item.data(0, RuleRole)) if item is not None else ""

    def current_mark(self) -> LintIssue | None:
        item = self.tree.currentItem()
        return item.data(0, MarkRole) if item is not None else None

    def group_item(self, rule: str) -> QTreeWidgetItem | None:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item.data(0, RuleRole) == rule:
                return item
        return None

    def _update_buttons(self, *_args) -> None:
        rule = self.current_rule()
        fixable = [m for m in self.controller.marks_for_rule(rule) if m.fix is not None]
        self.fix_all_btn.setEnabled(bool(fixable))
        self.fix_all_btn.setText(f"Fix all ({len(fixable)})" if fixable else "Fix all")
        mark = self.current_mark()
        self.fix_btn.setEnabled(mark is not None and mark.fix is not None)
        self._apply_grid_filter()

    def _activate(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        mark = item.data(0, MarkRole)
        if mark is not None and mark.rel:
            self.controller.jump_to(mark.rel, mark.start, mark.end)

    def _apply_grid_filter(self, *_args) -> None:
        proxy = self.controller.browser.proxy
        rule = self.current_rule()
        if not self.only.isChecked() or not rule:
            proxy.set_extra_predicate("lint", None)
            return
        rels = {m.rel for m in self.controller.marks_for_rule(rule) if m.rel}
        proxy.set_extra_predicate("lint", lambda rel, keep=frozenset(rels): rel in keep)

    # -- fixes -----------------------------------------------------------------------------------
    def fix_selected(self) -> None:
        mark = self.current_mark()
        if mark is None or mark.fix is None or not mark.rel:
            return
        from curation.captions.issues import apply_fixes

        self.controller.browser.editor.save()
        self.controller.ensure_fresh()  # the spans must match today's text
        fresh = [
            m
            for m in self.controller.report.by_rel.get(mark.rel, [])
            if m.rule == mark.rule and m.message == mark.message and m.fix is not None
        ]
        if not fresh:
            return
        mark = fresh[0]
        old = self.controller.session.caption(mark.rel)
        new = apply_fixes(old, [mark.fix])
        if new != old:
            self.controller.apply_caption_text(mark.rel, new, f"fix {mark.rule}: {mark.fix.title}")
            self.controller.relint_now()

    def fix_all(self, rule: str) -> int:
        if not rule:
            return 0
        result = self.controller.fix_all(rule)
        n = len(result.written) if result is not None else 0
        self.fixed_all.emit(rule, n)
        return n


class LintDock(QDockWidget):
    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__("Lint", parent)
        self.setObjectName("lintDock")
        self.panel = LintPanel(controller, self)
        self.setWidget(self.panel)
        self.panel.title_changed.connect(self.setWindowTitle)
        self.setAllowedAreas(
            Qt.DockWidgetArea.LeftDockWidgetArea
            | Qt.DockWidgetArea.RightDockWidgetArea
            | Qt.DockWidgetArea.BottomDockWidgetArea
        )
