"""The one summary line of ``make faults``, from its log: kills and fuzz cases, with defects."""
import re
import sys


def summary(text: str) -> str:
    kills = re.findall(r"^kill (\w+): exit (-?\d+), (\d+) steps logged, resumed at step (\d+), lost (-?\d+)", text, re.M)
    fuzz = re.findall(r"^fuzz ([\w-]+): (\d+) cases, (\d+) loaded, (\d+) refused, (\d+) defects", text, re.M)
    memory = re.findall(r"^fuzz [\w-]+: .* at most ([\d.]+) MiB traced, resident \+([\d.]+) MiB", text, re.M)
    lost = [max(int(k[4]), 0) for k in kills]  # negative: the checkpoint was ahead of the log read
    failed = "failed" in text.splitlines()[-1] if text.strip() else True
    return (f"faults: {len(kills)} kills ({', '.join(sorted(set(k[0] for k in kills)))}), all resumed: "
            f"{'no' if failed else 'yes'}, work lost per kill max {max(lost, default=0)} steps "
            f"(mean {sum(lost) / max(len(lost), 1):.2f}); fuzz: {sum(int(f[1]) for f in fuzz)} cases over "
            f"{len(fuzz)} readers, {sum(int(f[4]) for f in fuzz)} defects"
            + (f", memory per case at most {max(float(m[0]) for m in memory):.1f} MiB traced, resident "
               f"+{max(float(m[1]) for m in memory):.1f} MiB" if memory else ""))


if __name__ == "__main__":
    with open(sys.argv[1]) as fh:
        print(summary(fh.read()))
