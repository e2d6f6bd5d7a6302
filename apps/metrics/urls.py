from django.urls import path

from apps.metrics import views

app_name = "metrics"
urlpatterns = [
    path("", views.agent_metrics, name="agent"),
    path("<slug:key>/delete/", views.metric_delete, name="delete"),
]
