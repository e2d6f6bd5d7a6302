from django.urls import path

from apps.judging import views

app_name = "judging"
urlpatterns = [
    path("experiments/<int:pk>/", views.experiment_panel, name="experiment"),
    path("experiments/<int:pk>/criterion/", views.criterion_save, name="criterion"),
    path("experiments/<int:pk>/resume/", views.judging_resume, name="resume"),
    path("experiments/<int:pk>/judge/", views.judge_save, name="judge"),
    path("calls/<int:pk>/", views.call_panel, name="call"),
    path("calls/<int:pk>/verdict/", views.human_verdict, name="human-verdict"),
]
