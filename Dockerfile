FROM python:3.13-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
# Runtime dependencies only (no pytest, ruff, playwright, schemathesis…): `make lock` writes
# requirements-runtime.lock from pyproject.toml's dependencies, pinned as in requirements.lock.
COPY requirements-runtime.lock .
RUN pip install --no-cache-dir -r requirements-runtime.lock
COPY . .
RUN PRODUCTION=true SECRET_KEY=build python manage.py collectstatic --noinput
USER nobody
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000"]
