"""How any worker, on any machine, joins a study that ``automl search`` started.

``automl search`` records a :class:`~automl.tuner.record.StudySpec` in the study's user attrs: the space document (with
the command-line overrides applied), where the split snapshot lies (a local path and, with a
tracking server, an MLflow artifact) and its SHA-256, and the parent MLflow run. ``automl worker
--study NAME --storage URL`` needs nothing else: it rebuilds the config from the document, gets
the splits, checks their digest and starts asking the study for trials.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import optuna

from automl.config import SpaceConfig
from automl.data.splits import Splits
from automl.errors import DataError, UsageError
from automl.tuner.record import StudySpec, read_spec
from automl.urls import redact, usable_uri


def load_splits(
    spec: StudySpec, cfg: SpaceConfig, tracking_uri: str | None, cache_dir: Path
) -> tuple[Splits, str]:
    """The study's splits, checked against its digest: (splits, where they came from).

    Tried in order: the coordinator's snapshot file (same machine or a shared folder), the same
    file from the MLflow artifact store, the data source itself (same files on this machine).
    Images streamed from disk come with their pixel file, from beside the snapshot or from the
    artifact store; rebuilt from the source, they are decoded again into ``cache_dir``.
    """
    from automl.data.snapshot import PixelsMissing, read_snapshot, snapshot_name

    path = Path(spec.snapshot)
    if path.is_file():
        return _checked(read_snapshot(path), spec, f"the snapshot {path}")
    if spec.snapshot_artifact and tracking_uri:
        cached = cache_dir / snapshot_name(spec.splits_sha256)
        if not cached.is_file():
            cached = _download(spec.snapshot_artifact, cache_dir, tracking_uri)
        try:
            splits = read_snapshot(cached)
        except PixelsMissing as missing:  # streamed images: their pixels, logged beside it
            folder_uri = spec.snapshot_artifact.rsplit("/", 1)[0]
            _download(f"{folder_uri}/{missing.name}", cache_dir, tracking_uri)
            splits = read_snapshot(cached)
        return _checked(splits, spec, f"the artifact {spec.snapshot_artifact}")
    if cfg.data.source == "python":
        raise DataError(
            f"the study's data came from Python objects and its snapshot {path} is "
            f"not on this machine; run the search with a tracking server "
            f"(--tracking-uri http://...) so that workers can download it"
        )
    from automl.data import load_source, make_splits
    from automl.data.checks import fit_space_to_data
    from automl.data.streamed import to_disk

    arrays = load_source(cfg.data)
    splits = make_splits(arrays, fit_space_to_data(cfg, arrays).data)  # as the search split it
    splits = to_disk(splits, cache_dir)  # an image folder past the memory budget
    return _checked(splits, spec, f"the source {cfg.data.path or cfg.data.source}")


def _download(artifact_uri: str, folder: Path, tracking_uri: str) -> Path:
    """One of the study's artifacts (its splits, their pixels) into ``folder``."""
    import mlflow

    folder.mkdir(parents=True, exist_ok=True)
    try:
        return Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=artifact_uri, dst_path=str(folder), tracking_uri=tracking_uri
            )
        )
    except Exception as exc:
        raise DataError(
            f"cannot download the study's splits {artifact_uri} from {redact(tracking_uri)} "
            f"({redact(str(exc))[:200]}); check --tracking-uri"
        ) from None


def _checked(splits: Splits, spec: StudySpec, where: str) -> tuple[Splits, str]:
    from automl.data.snapshot import digest

    found = digest(splits)
    if found != spec.splits_sha256:
        raise DataError(
            f"the data this worker read from {where} is not the study's (split "
            f"sha256 {found[:12]}, the study's {spec.splits_sha256[:12]}); give "
            f"every worker the same data files, or the coordinator's snapshot"
        )
    return splits, where


@dataclass
class JoinedStudy:
    """A study that ``automl search`` started, opened by a worker, ``select`` or ``rerun``."""

    study: optuna.Study
    storage: optuna.storages.BaseStorage  # the storage API the study was opened with
    cfg: SpaceConfig  # with its data-dependent parts (objective ...)
    splits: Splits
    spec: StudySpec
    tracking_uri: str


def join_study(
    name: str, storage_url: str, tracking_uri: str | None, run_dir: Path, *, seed: int | None = None
) -> JoinedStudy:
    """Open a running or finished study with everything needed to train or select its trials.

    Args:
        storage_url: the study's storage (a journal file or a database URL).
        tracking_uri: MLflow; None uses the one the study recorded (unless it hid a password).
        run_dir: this machine's folder for candidate models and downloaded splits.
        seed: the sampler's seed for this process.
    """
    from automl.data.checks import fit_space_to_data
    from automl.models.transfer import resolve_study_bases
    from automl.tuner.study import max_epochs, open_storage, open_study

    try:
        spec = read_spec(optuna.load_study(study_name=name, storage=open_storage(storage_url)))
    except KeyError:
        raise UsageError(
            f"the storage {redact(storage_url)} has no study {name!r}; start it "
            f"with automl search SPACE, or check --study and --storage"
        ) from None
    tracking_uri = tracking_uri or usable_uri(spec.tracking_uri)
    if not tracking_uri:
        raise UsageError(
            f"the study's tracking URI {spec.tracking_uri} hides a password; give "
            f"it with --tracking-uri or AUTOML_TRACKING_URI"
        )
    cfg = spec.config()
    splits, _ = load_splits(spec, cfg, tracking_uri, run_dir / cfg.name / "data")
    cfg = fit_space_to_data(resolve_study_bases(cfg, Path(spec.run_dir)), splits)
    storage = open_storage(storage_url, cfg.search.max_retries)
    study = open_study(
        cfg.name,
        storage,
        storage_url,
        cfg.search,
        max_epochs(cfg),
        cfg.space,
        create=False,
        seed=seed,
    )
    return JoinedStudy(study, storage, cfg, splits, spec, tracking_uri)
