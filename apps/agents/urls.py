from django.urls import path

from apps.agents import views

app_name = "agents"
urlpatterns = [
    path("", views.agent_list, name="list"),
    path("<slug:slug>/", views.agent_detail, name="detail"),
    path("<slug:slug>/digest/", views.agent_digest, name="digest"),
    path("<slug:slug>/rollback/<int:number>/", views.agent_rollback, name="rollback"),
]
