from django.urls import path

from apps.calls import views

app_name = "calls"
urlpatterns = [
    path("agents/<slug:slug>/volume", views.agent_volume, name="agent-volume"),
]
