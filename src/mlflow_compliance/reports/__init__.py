"""Documents an assessor can take, written from what MLflow and the compliance record
hold: the model card and dataset cards (``model_card``, ``dataset_card``), the CycloneDX
1.6 ML-BOM (``cyclonedx``), SPDX 3.0.1 (``spdx``) and the AI Act Annex IV technical
documentation (``annex_iv``, rendered by ``annex_iv_html`` and ``annex_iv_pdf``, its
lifecycle read by ``annex_iv_facts``) of a model version, all from the facts
``facts.collect_version_facts`` reads; and the GDPR Art. 30(1) record of
processing activities over the whole server (``processing_register``, written by
``register_sheet`` as JSON, CSV and ODS). Each gap is shown as a gap with the article
that asks for it, never filled with invented text."""
