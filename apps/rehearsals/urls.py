from django.urls import path

from apps.rehearsals import views

app_name = "rehearsals"
urlpatterns = [
    path("agents/<slug:slug>/scenarios/", views.scenario_list, name="scenarios"),
    path("agents/<slug:slug>/scenarios/new/", views.scenario_new, name="scenario-new"),
    path("agents/<slug:slug>/scenarios/import/", views.scenario_import, name="scenario-import"),
    path("agents/<slug:slug>/scenarios.jsonl", views.scenario_export, name="scenario-export"),
    path("agents/<slug:slug>/evaluations/", views.evaluation_new, name="evaluation-new"),
    path("scenarios/<int:pk>/", views.scenario_edit, name="scenario-edit"),
    path("scenarios/<int:pk>/delete/", views.scenario_delete, name="scenario-delete"),
    path("calls/<int:pk>/scenario/", views.scenario_from_call, name="from_call"),
    path("evaluations/<int:pk>/", views.evaluation_detail, name="evaluation"),
]
