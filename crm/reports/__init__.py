"""Reports: one rendering engine shared by every report (Jinja2 templates -> self-contained HTML -> PDF with
WeasyPrint), Babel formatting, a two-language label catalogue, inline SVG charts, a pool of recycled
rendering processes and a leak scan of the outputs. See ``crm/reports/README.md`` for adding a report.

Modules: :mod:`~crm.reports.render` (``render_html``, ``render_pdf``, the registry ``REPORTS``),
:mod:`~crm.reports.fmt` (``Formatter``), :mod:`~crm.reports.i18n` (``translator``), :mod:`~crm.reports.charts`,
:mod:`~crm.reports.job` (``RenderJob``, ``JobResult``), :mod:`~crm.reports.pool` (``render_many``; the
Celery backend in :mod:`~crm.reports.celery_render`), :mod:`~crm.reports.leakscan`, :mod:`~crm.reports.dq`
(the monthly data-quality report; its charts in :mod:`~crm.reports.dq_charts`). Nothing here imports
WeasyPrint or matplotlib at module load.
"""
