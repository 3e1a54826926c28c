"""Videos in: frames (:mod:`.reader`, :mod:`.writer`), 2D detection (:mod:`.detector` the
interface, :mod:`.choose` the table; :mod:`.blazepose`, :mod:`.people`, :mod:`.task_model`,
:mod:`.onnx_pose` the detectors), tracking (:mod:`.tracking`), one pass over a video
(:mod:`.scan`) and causal lifting (:mod:`.online`). Lifting a whole video is
:mod:`starpose.lift.video`.
"""
