from django.urls import path

from apps.rehearsals import gate_views

app_name = "gate"
urlpatterns = [
    path("experiments/<int:pk>/", gate_views.gate_section, name="section"),
    path(
        "experiments/<int:pk>/variants/<slug:key>/rehearse/", gate_views.rehearse, name="rehearse"
    ),
    path("experiments/<int:pk>/override/", gate_views.override, name="override"),
    path("experiments/<int:pk>/agreement/", gate_views.agreement, name="agreement"),
]
