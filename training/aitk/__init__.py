"""ai-toolkit jobs: import one as a Likeness run config with a report, export a config as one.

``import_aitk`` / ``import_aitk_dict`` (``importer``), ``export_aitk`` / ``save_aitk``
(``export``); the walk and the report (``job``), the section mappings (``mapping``,
``mapping_train``) and the key tables (``tables``) are internal.
"""

from training.aitk.export import export_aitk, save_aitk
from training.aitk.importer import import_aitk, import_aitk_dict
from training.aitk.job import ImportReport, ReportItem

__all__ = [
    "ImportReport",
    "ReportItem",
    "export_aitk",
    "import_aitk",
    "import_aitk_dict",
    "save_aitk",
]
