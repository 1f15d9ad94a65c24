"""Settings read from the environment (one place; documented in README)."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"


def _secret_key() -> str:
    """Return SECRET_KEY, or a key persisted under var/ for development."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = VAR / "secret_key"
    if not path.exists():
        VAR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _env_int(name: str, default: int) -> int:
    """An integer setting from the environment."""
    return int(os.environ.get(name) or default)


def _int_list(value: str) -> tuple[int, ...]:
    """Parse '1,2,3' into a tuple of ints."""
    return tuple(int(v) for v in value.split(",") if v.strip())


@dataclass
class Settings:
    """Every tunable of the application; tests override fields directly."""

    database_url: str | None = field(default_factory=lambda: os.environ.get("DATABASE_URL"))
    secret_key: str = field(default_factory=_secret_key)
    secure_cookies: bool = field(default_factory=lambda: os.environ.get("SECURE_COOKIES", "0") == "1")
    public_url: str = field(default_factory=lambda: os.environ.get("PUBLIC_URL", "http://127.0.0.1:5000"))
    smtp_host: str | None = field(default_factory=lambda: os.environ.get("SMTP_HOST"))
    smtp_port: int = field(default_factory=lambda: int(os.environ.get("SMTP_PORT", "587")))
    smtp_user: str | None = field(default_factory=lambda: os.environ.get("SMTP_USER"))
    smtp_password: str | None = field(default_factory=lambda: os.environ.get("SMTP_PASSWORD"))
    mail_from: str = field(default_factory=lambda: os.environ.get("MAIL_FROM", "credencializacion@conalepmex.edu.mx"))
    smtp_tls: str = field(default_factory=lambda: os.environ.get("SMTP_TLS", "starttls"))  # starttls | tls | none
    smtp_timeout: float = field(default_factory=lambda: float(os.environ.get("SMTP_TIMEOUT", "20")))
    mail_max_attempts: int = field(default_factory=lambda: _env_int("MAIL_MAX_ATTEMPTS", 10))
    mail_retry_seconds: float = field(default_factory=lambda: float(os.environ.get("MAIL_RETRY_SECONDS", "5")))
    reset_token_minutes: int = 30
    activation_hours: int = field(default_factory=lambda: _env_int("ACTIVATION_HOURS", 72))  # admin-made accounts
    # sign-in throttle: per (address, account) a delay that grows after the free failures, and a
    # lock at the maximum; per address a lock (docs/security.md)
    login_max_failures_account: int = field(default_factory=lambda: _env_int("LOGIN_MAX_FAILURES_ACCOUNT", 5))
    login_max_failures_address: int = field(default_factory=lambda: _env_int("LOGIN_MAX_FAILURES_ADDRESS", 20))
    login_window_minutes: int = 15
    login_free_failures: int = 2
    login_delay_seconds: float = field(default_factory=lambda: float(os.environ.get("LOGIN_DELAY_SECONDS", "2")))
    recovery_max_per_account: int = field(default_factory=lambda: _env_int("RECOVERY_MAX_PER_ACCOUNT", 3))
    recovery_max_per_address: int = field(default_factory=lambda: _env_int("RECOVERY_MAX_PER_ADDRESS", 10))
    recovery_window_minutes: int = 60
    db_pool_max: int = field(default_factory=lambda: int(os.environ.get("DB_POOL_MAX", "10")))
    allowed_semesters: tuple[int, ...] = field(default_factory=lambda: _int_list(os.environ.get("SAE_SEMESTRES", "1,2,3,4,5,6")))
    sae_source: str = field(default_factory=lambda: os.environ.get("SAE_SOURCE", "file"))
    sae_url: str | None = field(default_factory=lambda: os.environ.get("SAE_URL"))
    sae_token: str | None = field(default_factory=lambda: os.environ.get("SAE_TOKEN"))
    sae_timeout: float = field(default_factory=lambda: float(os.environ.get("SAE_TIMEOUT", "5")))
    sae_retries: int = field(default_factory=lambda: int(os.environ.get("SAE_RETRIES", "2")))
    sigweb_url: str = field(default_factory=lambda: os.environ.get("SIGWEB_URL", "https://tablet.sigwebtablet.com:47290/SigWeb/"))
    timezone: str = "America/Mexico_City"
    # Tablero (docs/tablero.md): days in a status after which a student counts as «detenido», and the
    # month the school cycle starts (the Tablero's default date range)
    detenido_capturado_dias: int = field(default_factory=lambda: _env_int("DETENIDO_CAPTURADO_DIAS", 7))
    detenido_aplazado_dias: int = field(default_factory=lambda: _env_int("DETENIDO_APLAZADO_DIAS", 7))
    detenido_retoma_dias: int = field(default_factory=lambda: _env_int("DETENIDO_RETOMA_DIAS", 7))
    detenido_recibido_dias: int = field(default_factory=lambda: _env_int("DETENIDO_RECIBIDO_DIAS", 14))
    tablero_inicio_ciclo_mes: int = field(default_factory=lambda: _env_int("TABLERO_INICIO_CICLO_MES", 8))
    # Retention of biometrics (docs/privacy.md, "Conservación"): months after the vigencia of a delivered
    # card, days after a baja in SAE, days after delivery for replaced photo/signature versions; the purge
    # works in batches of purga_lote students and runs daily at purga_cron (UTC; 09:00 = 03:00 in Mexico City)
    retencion_entregado_meses: int = field(default_factory=lambda: _env_int("RETENCION_ENTREGADO_MESES", 12))
    retencion_baja_dias: int = field(default_factory=lambda: _env_int("RETENCION_BAJA_DIAS", 90))
    retencion_versiones_dias: int = field(default_factory=lambda: _env_int("RETENCION_VERSIONES_DIAS", 30))
    purga_lote: int = field(default_factory=lambda: _env_int("PURGA_LOTE", 200))
    purga_cron: str = field(default_factory=lambda: os.environ.get("PURGA_CRON", "0 9 * * *"))
