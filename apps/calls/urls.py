from django.urls import path

from apps.calls import views

app_name = "calls"
urlpatterns = [
    path("agents/<slug:slug>/volume", views.agent_volume, name="agent-volume"),
    path("agents/<slug:slug>/", views.agent_calls, name="agent"),
    path("agents/<slug:slug>/calls.csv", views.agent_calls_csv, name="agent-csv"),
    path("experiments/<int:pk>/", views.experiment_calls, name="experiment"),
    path("experiments/<int:pk>/calls.csv", views.experiment_calls_csv, name="experiment-csv"),
    path("<int:pk>/", views.call_detail, name="detail"),
]
