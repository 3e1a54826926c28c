"""Kill training at random moments (SIGKILL, SIGTERM, SIGINT) and resume until it finishes: the
final weights equal an uninterrupted run's; ``--kills N`` for the long campaign."""
import signal

from tests.kill_harness import epochs_for, kill_chain, reference, same_weights


def test_killed_and_resumed_training_ends_with_the_weights_of_an_uninterrupted_run(tiny_dataset_dir, tmp_path, request):
    kills = request.config.getoption("--kills")
    epochs = epochs_for(kills)
    straight = reference(tiny_dataset_dir, tmp_path / "straight", epochs)
    chain = kill_chain(tiny_dataset_dir, tmp_path / "killed", kills, seed=1, epochs=epochs,
                       signals=(signal.SIGTERM, signal.SIGKILL, signal.SIGINT, signal.SIGKILL))
    for kill in chain.kills:
        print(f"kill {kill.signal}: exit {kill.exit_code}, {kill.steps_logged} steps logged, "
              f"resumed at step {kill.resumed_at}, lost {kill.lost}")
        assert kill.lost <= 1  # a checkpoint after every step: at most the step in progress
        if kill.signal in ("SIGTERM", "SIGINT") and kill.steps_logged > 0:
            assert kill.exit_code == 128 + signal.Signals[kill.signal]
    assert len(chain.kills) >= min(kills, 1)
    assert same_weights(straight, chain.final)
