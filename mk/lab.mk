# Extra lab targets (included by the top-level Makefile).
.PHONY: lab-status lab-shell-server lab-shell-test image-rebuild molecule-destroy

lab-status:
	@scripts/lab.sh status

lab-shell-server:
	@scripts/lab.sh shell lab-server

lab-shell-test:
	@scripts/lab.sh shell lab-test

# Rebuild the lab image (debootstrap base and systemd layer) from scratch.
image-rebuild: dockerd
	@LAB_IMAGE_REBUILD=1 scripts/lab-image.sh

# Remove what an interrupted `molecule test` left behind.
molecule-destroy: venv
	@for f in molecule/*/molecule.yml; do s=$$(basename $$(dirname $$f)); molecule destroy -s $$s; done
