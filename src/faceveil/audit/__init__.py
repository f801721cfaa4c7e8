"""The privacy audit: does an anonymised image still give the person away?"""

from faceveil.audit.metrics import FaceAudit, ImageAudit, audit_pair, background_fidelity
from faceveil.audit.runner import AuditReport, audit

__all__ = ["AuditReport", "FaceAudit", "ImageAudit", "audit", "audit_pair", "background_fidelity"]
