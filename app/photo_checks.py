"""ID-photo quality checks on a normalised 600×800 photo (../shared/notes/photo-quality.md).

Each failed check is a Finding with a Spanish message. Hard findings (no face, several faces)
block the capture; soft ones (size, centring, sharpness, exposure, background) may be accepted
by the operator with a reason. Thresholds live in Thresholds (overridable with PHOTO_* variables)
and were calibrated on tests/data/photos: recalibrate them on real captures.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import asdict, dataclass, field, fields

import cv2
import numpy as np
from PIL import Image

cv2.setNumThreads(1)  # requests run in parallel threads; OpenCV's own pool would oversubscribe 2 cores


@dataclass(frozen=True)
class Thresholds:
    """Tunable limits of the checks (fractions of the image unless noted)."""

    detect_width: int = 120            # detection runs on the photo scaled to this width (speed)
    min_face_frac: float = 0.20        # Haar minSize, of the width
    scale_factor: float = 1.1          # Haar pyramid step (1.15 costs ≈ 30 % less CPU; recalibrate first)
    center_min: float = 0.42           # face centre, of the width (ISO 19794-5: 0.45–0.55)
    center_max: float = 0.58
    eyes_min: float = 0.30             # eye line from the top, of the height
    eyes_max: float = 0.50
    head_w_min: float = 0.50           # estimated head width, of the width
    head_w_max: float = 0.80
    head_h_min: float = 0.50           # estimated chin-to-crown, of the height (ICAO 0.70–0.80 is stricter)
    head_h_max: float = 0.90
    sharp_min: float = 100.0           # variance of the Laplacian of the face resized to 128 px wide
    lum_min: float = 90.0              # mean face luminance, 0–255
    lum_max: float = 200.0
    clip_max: float = 0.02             # fraction of face pixels at 0–4 or 251–255
    contrast_min: float = 25.0         # grey standard deviation of the face
    side_max: float = 0.18             # left/right halves, relative difference (note: ~0.15; the good fixture is 0.14)
    background: bool = False           # background check off until calibrated on real captures
    bg_std_max: float = 40.0
    bg_lum_min: float = 120.0

    @classmethod
    def from_env(cls) -> "Thresholds":
        """Defaults overridden by PHOTO_<NAME> environment variables (e.g. PHOTO_SHARP_MIN=80)."""
        values = {}
        for f in fields(cls):
            raw = os.environ.get(f"PHOTO_{f.name.upper()}")
            if raw is not None:
                values[f.name] = raw.lower() in ("1", "true", "si", "sí") if f.type in (bool, "bool") else \
                    type(f.default)(raw)
        return cls(**values)


@dataclass
class Finding:
    """One failed check."""

    code: str
    message: str
    hard: bool = False


@dataclass
class Report:
    """The outcome of all checks on one photo (stored in biometricos.revision)."""

    findings: list[Finding] = field(default_factory=list)
    measures: dict = field(default_factory=dict)
    ms: float = 0.0
    cpu_ms: float = 0.0  # CPU time of this thread: what the checks cost, whatever else runs

    @property
    def hard(self) -> list[Finding]:
        """Findings that block the capture."""
        return [f for f in self.findings if f.hard]

    @property
    def soft(self) -> list[Finding]:
        """Findings the operator may accept with a reason."""
        return [f for f in self.findings if not f.hard]

    def as_json(self) -> dict:
        """The JSON stored with the photo."""
        return {"version": 1, "ok": not self.findings, "bloqueos": [asdict(f) for f in self.hard],
                "advertencias": [asdict(f) for f in self.soft], "medidas": self.measures, "ms": round(self.ms, 1),
                "cpu_ms": round(self.cpu_ms, 1)}


EYE_ROI_WIDTH = 100
_local = threading.local()  # CascadeClassifier is not thread-safe: one set per worker thread


def _cascade(name: str) -> cv2.CascadeClassifier:
    """A Haar cascade shipped with opencv-python-headless, loaded once per thread."""
    cache = _local.__dict__.setdefault("cascades", {})
    if name not in cache:
        c = cv2.CascadeClassifier(cv2.data.haarcascades + name)
        assert not c.empty(), name
        cache[name] = c
    return cache[name]


def detect_faces(grey: np.ndarray, t: Thresholds) -> list[tuple[int, int, int, int]]:
    """Frontal faces (x, y, w, h) in full-size coordinates, detected on a reduced copy."""
    scale = grey.shape[1] / t.detect_width
    small = cv2.resize(grey, (t.detect_width, round(grey.shape[0] / scale)), interpolation=cv2.INTER_AREA)
    side = round(t.min_face_frac * t.detect_width)
    found = _cascade("haarcascade_frontalface_default.xml").detectMultiScale(small, t.scale_factor, 5, minSize=(side, side))
    return [tuple(round(v * scale) for v in box) for box in found]


def eye_line(grey: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """y of the eyes: the centre of eyes found in the upper half of the face, or an estimate."""
    x, y, w, h = box
    roi = grey[y:y + h // 2, x:x + w]
    k = EYE_ROI_WIDTH / max(w, 1)  # search a 100 px wide copy: 15× faster, same answer
    small = cv2.resize(roi, (EYE_ROI_WIDTH, max(1, round(roi.shape[0] * k))), interpolation=cv2.INTER_AREA)
    eyes = _cascade("haarcascade_eye.xml").detectMultiScale(small, 1.1, 5, minSize=(10, 10), maxSize=(40, 40))
    if len(eyes):
        return y + float(np.mean([ey + eh / 2 for _, ey, _, eh in eyes])) / k
    return y + 0.38 * h


def _geometry(grey: np.ndarray, box, t: Thresholds, m: dict) -> list[Finding]:
    """Size and centring of the face against the ID-photo rules."""
    H, W = grey.shape
    x, y, w, h = box
    m.update(centro=(x + w / 2) / W, ojos=eye_line(grey, box) / H, ancho_cabeza=1.1 * w / W,
             alto_cabeza=(y + h - max(0.0, y - 0.5 * h)) / H)
    out = []
    if m["ancho_cabeza"] < t.head_w_min:
        out.append(Finding("rostro_pequeno", "Rostro muy pequeño: acérquese a la cámara o use el zoom "
                                             "(la foto debe ser de rostro, no de busto ni de cuerpo)."))
    elif m["ancho_cabeza"] > t.head_w_max or m["alto_cabeza"] > t.head_h_max:
        out.append(Finding("rostro_grande", "Rostro muy grande: aléjese de la cámara o reduzca el zoom."))
    elif m["alto_cabeza"] < t.head_h_min:
        out.append(Finding("rostro_pequeno", "Rostro muy pequeño: acérquese a la cámara o use el zoom."))
    if not t.center_min <= m["centro"] <= t.center_max:
        out.append(Finding("descentrado", "Rostro descentrado: mueva el recuadro para que quede al centro."))
    if not t.eyes_min <= m["ojos"] <= t.eyes_max:
        where = "muy arriba" if m["ojos"] < t.eyes_min else "muy abajo"
        out.append(Finding("ojos", f"Los ojos quedan {where}: ajuste el recuadro a la guía del rostro."))
    return out


def _exposure(face: np.ndarray, t: Thresholds, m: dict) -> list[Finding]:
    """Brightness, clipping, contrast and side shadows of the face."""
    half = face.shape[1] // 2
    left, right = float(face[:, :half].mean()), float(face[:, half:].mean())
    m.update(luminancia=float(face.mean()), recorte=float(((face < 5) | (face > 250)).mean()),
             contraste=float(face.std()), lados=abs(left - right) / max(left, right, 1.0))
    out = []
    if m["luminancia"] < t.lum_min:
        out.append(Finding("oscura", "Foto oscura: agregue luz frontal difuminada."))
    elif m["luminancia"] > t.lum_max:
        out.append(Finding("clara", "Foto sobreexpuesta: reduzca la luz directa sobre el rostro."))
    if m["recorte"] > t.clip_max:
        out.append(Finding("recorte", "Hay zonas del rostro totalmente negras o blancas: revise la iluminación."))
    if m["contraste"] < t.contrast_min:
        out.append(Finding("contraste", "Foto con poco contraste: revise la iluminación."))
    if m["lados"] > t.side_max:
        out.append(Finding("sombra", "Sombra en un lado del rostro: use luz frontal, no lateral."))
    return out


def _sharpness(face: np.ndarray, t: Thresholds, m: dict, exposure_ok: bool) -> list[Finding]:
    """Variance of the Laplacian of the face at a fixed width (skipped when badly exposed)."""
    small = cv2.resize(face, (128, max(1, round(128 * face.shape[0] / face.shape[1]))), interpolation=cv2.INTER_AREA)
    m["nitidez"] = float(cv2.Laplacian(small, cv2.CV_64F).var())
    if exposure_ok and m["nitidez"] < t.sharp_min:
        return [Finding("borrosa", "Foto borrosa: pida al alumno que no se mueva y vuelva a tomar la foto.")]
    return []


def _background(grey: np.ndarray, box, t: Thresholds, m: dict) -> list[Finding]:
    """Plain, light background outside an enlarged head box (lightness only)."""
    x, y, w, h = box
    mask = np.ones(grey.shape[:2], bool)
    mask[max(0, y - h):, max(0, x - w // 3):x + w + w // 3] = False
    grey = grey[mask]
    if grey.size == 0:
        return []
    m.update(fondo_luminancia=float(grey.mean()), fondo_variacion=float(grey.std()))
    if m["fondo_luminancia"] < t.bg_lum_min or m["fondo_variacion"] > t.bg_std_max:
        return [Finding("fondo", "El fondo no es liso y claro: use una pared clara sin objetos.")]
    return []


def check_photo(img: Image.Image, t: Thresholds | None = None) -> Report:
    """Run every check on a photo (any size; the capture passes images.CHECK_SIZE grey)."""
    t = t or Thresholds()
    start, cpu = time.perf_counter(), time.thread_time()
    grey = np.asarray(img if img.mode == "L" else img.convert("L"))
    report = Report()
    faces = detect_faces(grey, t)
    report.measures["rostros"] = len(faces)
    if not faces:
        report.findings.append(Finding("sin_rostro", "No se detectó un rostro de frente: el alumno debe mirar "
                                                     "a la cámara, con el rostro completo y descubierto.", True))
    elif len(faces) > 1:
        report.findings.append(Finding("varios_rostros", "Se detectó más de un rostro: en la foto debe aparecer "
                                                         "solo el alumno.", True))
    else:
        box = faces[0]
        x, y, w, h = box
        face = grey[y:y + h, x:x + w]
        report.findings += _geometry(grey, box, t, report.measures)
        exposure = _exposure(face, t, report.measures)
        report.findings += exposure
        report.findings += _sharpness(face, t, report.measures, exposure_ok=not exposure)
        if t.background:
            report.findings += _background(grey, box, t, report.measures)
    report.measures = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in report.measures.items()}
    report.ms = (time.perf_counter() - start) * 1000
    report.cpu_ms = (time.thread_time() - cpu) * 1000
    return report
