"""Test rigs of the lab's tests and benchmarks, never shipped with labctl:
network namespaces joined by veths (netlab), a private cgroup + netns + pin
root (sandbox), and traffic tools (tcp_probe, udpflood: also installed on lab
hosts as lab-tcp-probe and lab-udpflood)."""
