from django.shortcuts import get_object_or_404, render

from apps.experiments import selectors
from apps.experiments.models import Status


def experiment_list(request):
    status = request.GET.get("status", "")
    return render(
        request,
        "experiments/experiment_list.html",
        {
            "experiments": selectors.experiments_for_list(status=status),
            "status": status,
            "statuses": Status.choices,
        },
    )


def experiment_detail(request, pk):
    experiment = get_object_or_404(selectors.experiments_for_page(), pk=pk)
    return render(request, "experiments/experiment_detail.html", {"experiment": experiment})
