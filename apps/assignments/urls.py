from django.urls import path

from apps.assignments import views
from apps.assignments.schema import AssignmentSchema

views.assign.cls = AssignmentSchema  # how drf-spectacular finds the description
views.assign.initkwargs = {}

urlpatterns = [path("assignments", views.assign, name="assign")]
