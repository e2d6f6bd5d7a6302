from django.urls import path

from apps.reviews import views

app_name = "reviews"
urlpatterns = [
    path("", views.review_index, name="index"),
    path("experiments/<int:pk>/", views.review, name="review"),
    path("experiments/<int:pk>/vote/", views.vote, name="vote"),
    path("experiments/<int:pk>/tags/", views.tag_add, name="tag"),
    path("experiments/<int:pk>/tags/remove/", views.tag_remove, name="untag"),
    path("experiments/<int:pk>/tally/", views.tally, name="tally"),
]
