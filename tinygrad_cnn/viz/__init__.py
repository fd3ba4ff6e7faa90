"""See inside a training run: the autograd graph drawn, and pictures of the
filters, feature maps, gradient flow, predictions and confusions.

    from tinygrad_cnn import viz
    with viz.trace_modules(model):                     # which module ran which op
        loss = F.cross_entropy(model(images), labels)
    open("graph.dot", "w").write(viz.to_dot(loss, params=dict(model.named_parameters())))
    viz.render_graph(loss, "graph.svg", collapse_modules=True)     # needs Graphviz's `dot`
    viz.draw_graph(loss, collapse_modules=True)   # in Jupyter: drawn inline (by matplotlib without `dot`)
    viz.plot_filters(model[0], "filters.png")
    viz.plot_feature_maps(model, image, "feature_maps.png")
    viz.plot_gradient_flow(history, "gradient_flow.png")          # fit(..., track_gradients=True)
    viz.plot_predictions(model, test_set, "predictions.png", normalize=(0.1307, 0.3081))
    viz.plot_confusion_matrix(model, test_loader, "confusion.png")

Importing needs only numpy: matplotlib (extra ``plot``) and the graphviz
package (extra ``viz``) are imported when a function needs them. In Jupyter
every plot shows inline as soon as it is drawn (no ``%matplotlib`` magic).
"""
from .graph import (  # noqa: F401
    AutogradGraph, GraphvizNotFoundError, ModuleCall, ModuleTrace, SavedValue, draw_graph, format_bytes, graph_nodes,
    render_graph, saved_for_backward, to_dot, trace_modules,
)
from .plots import (  # noqa: F401
    confusion_matrix, plot_confusion_matrix, plot_feature_maps, plot_filters, plot_gradient_flow,
    plot_predictions,
)

__all__ = ["to_dot", "draw_graph", "AutogradGraph", "render_graph", "trace_modules", "saved_for_backward",
           "graph_nodes", "plot_filters", "plot_feature_maps", "plot_gradient_flow", "plot_predictions",
           "plot_confusion_matrix", "confusion_matrix", "GraphvizNotFoundError", "ModuleTrace",
           "ModuleCall", "SavedValue", "format_bytes"]
