"""``BalanceDashboard``: the verdict, tier and pose charts, and the advice list.

Shows one balance report (``curation.balance.report.build_report``). Clicking an advice line
emits ``advice_activated(paths, message)``; the panel filters the grid to those images.
The profile and backend selectors and the review / export buttons only emit intents.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QRect, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFontMetrics
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.panels.faces.charts import PoseMixChart, TierChart

VERDICT_STYLE = {
    "ready": ("READY", "#1f5f3a", "#8ff0b4"),
    "ready-with-warnings": ("READY WITH WARNINGS", "#5a4516", "#ffd68a"),
    "not-ready": ("NOT READY", "#5c1f26", "#ffb0b0"),
}
SEVERITY_COLOUR = {"error": "#ff7b7b", "warning": "#f0b35a", "info": "#8fb4ff"}
SEVERITY_MARK = {"error": "●", "warning": "▲", "info": "ℹ"}
BACKEND_LABELS = [
    ("auto", "Auto (best available)"),
    ("insightface", "insightface (best; non-commercial models)"),
    ("yunet", "YuNet (+ SFace)"),
    ("dlib", "dlib identity (installed, no download)"),
    ("haar", "Haar cascades (basic)"),
]
PathsRole = int(Qt.ItemDataRole.UserRole) + 1

STYLE = """
QWidget#balanceDashboard { background: palette(window); }
QLabel#dashSection { color: #8b93a0; font-weight: 600; text-transform: uppercase;
                     padding-top: 6px; }
QLabel#verdict { border-radius: 8px; padding: 10px 12px; font-size: 16pt; font-weight: 700; }
QLabel#verdictReasons, QLabel#backendInfo, QLabel#datasetSummary { color: #aeb6c2; }
QLabel#runState { color: #7fb0ff; }
QListWidget#adviceList { background: palette(base); border: 1px solid #2c313a; border-radius: 6px; }
QListWidget#adviceList::item { padding: 6px 4px; border-bottom: 1px solid #22262d; }
QListWidget#adviceList::item:hover { background: #22324a; }
QListWidget#adviceList::item:selected { background: #2c4670; }
"""


def _section(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("dashSection")
    return label


class BalanceDashboard(QWidget):
    advice_activated = Signal(list, str)  # paths, message
    profile_changed = Signal(str)
    backend_changed = Signal(str)
    reanalyse_requested = Signal()
    cancel_requested = Signal()
    review_duplicates_requested = Signal()
    review_identity_requested = Signal()
    export_requested = Signal()
    save_report_requested = Signal()
    use_insightface_requested = Signal()
    train_requested = Signal()  # "Ready: train a LoRA" (shown on a READY verdict)

    def __init__(self, profiles: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("balanceDashboard")
        self.setStyleSheet(STYLE)
        self.report: dict[str, Any] | None = None
        self.profile_combo = QComboBox()
        for name in profiles:
            self.profile_combo.addItem(name.replace("-", " ").capitalize(), name)
        self.profile_combo.setToolTip("The balance profile the dataset is judged against")
        self.backend_combo = QComboBox()
        for key, label in BACKEND_LABELS:
            self.backend_combo.addItem(label, key)
        self.backend_combo.setToolTip("Face detector; Auto picks the best one that can run here")
        for combo in (self.profile_combo, self.backend_combo):
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(14)
        self.models_btn = QToolButton()
        self.models_btn.setText("Models")
        self.models_btn.setObjectName("faceModelsButton")
        self.models_btn.setToolTip("Face model folder and optional model downloads")
        self.models_btn.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.reanalyse_btn = QPushButton("Re-analyse")
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.hide()
        self.run_state = QLabel("")
        self.run_state.setObjectName("runState")
        self.run_state.setWordWrap(True)
        self.backend_info = QLabel("")
        self.backend_info.setObjectName("backendInfo")
        self.backend_info.setWordWrap(True)
        # grows with its text (a fallback notice + the identity warning) instead of being
        # squeezed under the form
        self.backend_info.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.insightface_btn = QPushButton("Use insightface (optional download)…")
        self.insightface_btn.setObjectName("linkButton")
        self.insightface_btn.hide()
        self.verdict = QLabel("No analysis yet")
        self.verdict.setObjectName("verdict")
        self.verdict.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.reasons = QLabel("")
        self.reasons.setObjectName("verdictReasons")
        self.reasons.setWordWrap(True)
        self.summary = QLabel("")
        self.summary.setObjectName("datasetSummary")
        self.summary.setWordWrap(True)
        self.tier_chart = TierChart()
        self.pose_chart = PoseMixChart()
        self.advice = QListWidget()
        self.advice.setObjectName("adviceList")
        self.advice.setWordWrap(True)
        self.advice.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.advice.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.advice.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.advice.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.dup_btn = QPushButton("Duplicates")
        self.dup_btn.setToolTip("Review the near-duplicate groups side by side")
        self.id_btn = QPushButton("Identity")
        self.export_btn = QPushButton("Export…")
        self.export_btn.setToolTip("Export a cleaned copy (watermark crop, face crop)")
        self.export_btn.setObjectName("primaryButton")
        self.report_btn = QPushButton("Save report…")

        form = QGridLayout()
        form.setHorizontalSpacing(8)
        form.addWidget(QLabel("Profile"), 0, 0)
        form.addWidget(self.profile_combo, 0, 1)
        form.addWidget(QLabel("Faces"), 1, 0)
        form.addWidget(self.backend_combo, 1, 1)
        form.addWidget(self.models_btn, 1, 2)
        self.filter_row = 2  # the panel puts its grid filter here
        self.form = form
        form.setColumnStretch(1, 1)
        run_row = QHBoxLayout()
        run_row.addWidget(self.run_state, 1)
        run_row.addWidget(self.cancel_btn)
        run_row.addWidget(self.reanalyse_btn)
        buttons = QGridLayout()
        buttons.addWidget(self.dup_btn, 0, 0)
        buttons.addWidget(self.id_btn, 0, 1)
        buttons.addWidget(self.report_btn, 1, 0)
        buttons.addWidget(self.export_btn, 1, 1)

        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(12, 10, 12, 12)
        lay.setSpacing(6)
        lay.addLayout(form)
        lay.addWidget(self.backend_info)
        lay.addWidget(self.insightface_btn, 0, Qt.AlignmentFlag.AlignLeft)
        lay.addLayout(run_row)
        lay.addWidget(self.verdict)
        self.train_btn = QPushButton("Ready: train a LoRA")
        self.train_btn.setObjectName("trainButton")
        self.train_btn.clicked.connect(self.train_requested)
        self.train_btn.hide()
        lay.addWidget(self.train_btn)
        lay.addWidget(self.reasons)
        lay.addWidget(self.summary)
        lay.addLayout(buttons)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setStyleSheet("color: #2c313a;")
        lay.addWidget(line)
        lay.addWidget(_section("Shot tiers vs target"))
        lay.addWidget(self.tier_chart)
        lay.addWidget(_section("Pose mix per tier"))
        lay.addWidget(self.pose_chart)
        lay.addWidget(_section("Advice (click to show the images)"))
        lay.addWidget(self.advice)
        lay.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)  # never clip
        scroll.setWidget(body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

        self.profile_combo.currentIndexChanged.connect(
            lambda _i: self.profile_changed.emit(self.profile_combo.currentData())
        )
        self.backend_combo.currentIndexChanged.connect(
            lambda _i: self.backend_changed.emit(self.backend_combo.currentData())
        )
        self.reanalyse_btn.clicked.connect(self.reanalyse_requested)
        self.cancel_btn.clicked.connect(self.cancel_requested)
        self.insightface_btn.clicked.connect(self.use_insightface_requested)
        self.advice.itemClicked.connect(self._on_advice)
        self.advice.itemActivated.connect(self._on_advice)
        self.dup_btn.clicked.connect(self.review_duplicates_requested)
        self.id_btn.clicked.connect(self.review_identity_requested)
        self.export_btn.clicked.connect(self.export_requested)
        self.report_btn.clicked.connect(self.save_report_requested)
        self.set_report(None)

    # -- selectors ---------------------------------------------------------------------
    def select(self, combo: QComboBox, key: str) -> None:
        i = combo.findData(key)
        if i >= 0 and combo.currentIndex() != i:
            combo.blockSignals(True)
            combo.setCurrentIndex(i)
            combo.blockSignals(False)

    def add_profile(self, key: str, label: str) -> None:
        if self.profile_combo.findData(key) < 0:
            self.profile_combo.addItem(label, key)

    # -- state -------------------------------------------------------------------------
    def set_running(self, running: bool, text: str = "") -> None:
        self.cancel_btn.setVisible(running)
        self.reanalyse_btn.setEnabled(not running)
        self.run_state.setText(text if running else self.run_state.text())

    def set_progress(self, done: int, total: int) -> None:
        self.run_state.setText(f"Analysing faces… {done}/{total}")

    def set_status_text(self, text: str) -> None:
        self.run_state.setText(text)

    def set_backend_info(self, text: str, offer_insightface: bool) -> None:
        self.backend_info.setText(text)
        self.insightface_btn.setVisible(offer_insightface)

    def set_report(self, report: dict[str, Any] | None) -> None:
        self.report = report
        self.advice.clear()
        if report is None:
            self.verdict.setText("No analysis yet")
            self.verdict.setStyleSheet("background: #262a31; color: #9aa3af;")
            self.reasons.setText("Open a folder: faces are analysed in the background.")
            self.summary.setText("")
            self.tier_chart.set_tiers(None)
            self.pose_chart.set_tiers(None)
            for b in (self.dup_btn, self.id_btn, self.export_btn, self.report_btn):
                b.setEnabled(False)
            self.train_btn.hide()
            return
        verdict = report["verdict"]
        self.train_btn.setVisible(verdict["status"] != "not-ready")
        text, bg, fg = VERDICT_STYLE.get(verdict["status"], VERDICT_STYLE["not-ready"])
        self.verdict.setText(text)
        self.verdict.setStyleSheet(f"background: {bg}; color: {fg};")
        reasons = verdict["reasons"]
        shown = "\n".join(f"• {r}" for r in reasons[:3])
        if len(reasons) > 3:
            shown += f"\n…and {len(reasons) - 3} more below"
        self.reasons.setText(shown)
        ds = report["dataset"]
        parts = [f"{ds['images']} images", f"{ds['active']} used"]
        if ds["excluded"]:
            parts.append(f"{ds['excluded']} excluded")
        if ds["unreadable"]:
            parts.append(f"{ds['unreadable']} unreadable")
        if not ds["complete"]:
            parts.append("analysis incomplete (cancelled)")
        self.summary.setText(" · ".join(parts) + f" — profile: {report['profile']['title']}")
        self.tier_chart.set_tiers(report["tiers"])
        self.pose_chart.set_tiers(report["tiers"])
        for item in report["advice"]:
            self._add_advice(item)
        self._fit_advice()
        QTimer.singleShot(0, self._fit_advice)  # again once the layout settled
        n_dup = len(report["duplicates"])
        ident = report["identity"]
        n_id = len(ident["outliers"]) + len(ident["review"])
        self.dup_btn.setText(f"Duplicates ({n_dup})")
        self.dup_btn.setEnabled(n_dup > 0)
        self.id_btn.setText(f"Identity ({n_id})")
        self.id_btn.setEnabled(n_id > 0)
        self.id_btn.setToolTip(
            ident["note"] or "Review the faces that may belong to another person"
        )
        self.export_btn.setEnabled(True)
        self.report_btn.setEnabled(True)

    def _add_advice(self, item: dict[str, Any]) -> None:
        paths = item.get("paths") or []
        sev = item["severity"]
        suffix = f"   ({len(paths)} image{'s' if len(paths) != 1 else ''})" if paths else ""
        row = QListWidgetItem(f"{SEVERITY_MARK[sev]}  {item['message']}{suffix}")
        row.setForeground(QColor(SEVERITY_COLOUR[sev]))
        row.setData(PathsRole, list(paths))
        row.setToolTip(
            "Click to show these images in the grid" if paths else "About the whole dataset"
        )
        self.advice.addItem(row)

    def _fit_advice(self) -> None:
        """The list shows every line (the dashboard scrolls, not the list)."""
        fm = QFontMetrics(self.advice.font())
        width = max(80, self.advice.viewport().width() - 12)
        height = 0
        for i in range(self.advice.count()):
            item = self.advice.item(i)
            text = fm.boundingRect(
                QRect(0, 0, width, 100_000), Qt.TextFlag.TextWordWrap, item.text()
            )
            height += max(self.advice.sizeHintForRow(i), text.height() + 14)
        self.advice.setFixedHeight(max(60, height + 2 * self.advice.frameWidth() + 4))

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        QTimer.singleShot(0, self._fit_advice)

    def advice_rows(self) -> list[str]:
        return [self.advice.item(i).text() for i in range(self.advice.count())]

    def _on_advice(self, row: QListWidgetItem) -> None:
        paths = row.data(PathsRole) or []
        if paths:
            text = row.text().split("  ", 1)[-1].rsplit("   (", 1)[0]
            self.advice_activated.emit(list(paths), text)
