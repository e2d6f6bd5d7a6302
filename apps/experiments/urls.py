from django.urls import path

from apps.experiments import views

app_name = "experiments"
urlpatterns = [
    path("", views.experiment_list, name="list"),
    path("new/", views.experiment_new, name="new"),
    path("new/limits/", views.draft_limits, name="draft-limits"),
    path("<int:pk>/", views.experiment_detail, name="detail"),
    path("<int:pk>/edit/", views.experiment_edit, name="edit"),
    path("<int:pk>/delete/", views.experiment_delete, name="delete"),
    path("<int:pk>/weights/", views.weights_save, name="weights"),
    path("<int:pk>/segments/", views.segments_keep, name="segments-keep"),
    path("<int:pk>/start/", views.experiment_start, name="start"),
    path("<int:pk>/stop/", views.experiment_stop, name="stop"),
    path("<int:pk>/apply/", views.experiment_apply, name="apply"),
    path("<int:pk>/ask/", views.apply_request_new, name="ask"),
    path(
        "<int:pk>/requests/<int:request_pk>/decline/",
        views.apply_request_decline,
        name="request-decline",
    ),
    path("<int:pk>/variants/new/", views.variant_new, name="variant-new"),
    path("<int:pk>/variants/diff/", views.variant_diff, name="variant-diff"),
    path("<int:pk>/variants/<slug:key>/", views.variant_edit, name="variant"),
    path("<int:pk>/variants/<slug:key>/remove/", views.variant_remove, name="variant-remove"),
    path("<int:pk>/variants/<slug:key>/resume/", views.variant_resume, name="variant-resume"),
]
