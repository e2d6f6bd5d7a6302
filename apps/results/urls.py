from django.urls import path

from apps.results import views

app_name = "results"
urlpatterns = [
    path("plan/", views.plan, name="plan"),
    path("<int:pk>/", views.results_panel, name="panel"),
    path("<int:pk>/refresh/", views.results_refresh, name="refresh"),
    path("<int:pk>/segments/", views.results_segments, name="segments"),
]
