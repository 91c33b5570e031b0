# Extra lab targets (included by the top-level Makefile).
.PHONY: lab-status lab-shell-server lab-shell-test image-rebuild molecule-destroy

lab-status: ## the lab's network and containers, and systemd's state in each
	@scripts/lab.sh status

lab-shell-server: ## a shell in lab-server
	@scripts/lab.sh shell lab-server

lab-shell-test: ## a shell in lab-test
	@scripts/lab.sh shell lab-test

# Rebuild the lab image (debootstrap base and systemd layer) from scratch.
image-rebuild: dockerd ## rebuild the lab image from scratch
	@LAB_IMAGE_REBUILD=1 scripts/lab-image.sh

# One molecule scenario: make molecule-bypass, molecule-stack, molecule-suite
# (molecule/NAME/molecule.yml over the shared .config/molecule/config.yml).
molecule-%: venv image ## one molecule scenario: molecule-bypass, -stack or -suite
	@test -f molecule/$*/molecule.yml || { echo "no scenario molecule/$*" >&2; exit 2; }
	@molecule test -s $* --destroy=always

# Remove what an interrupted `molecule test` left behind.
molecule-destroy: venv ## remove what an interrupted molecule run left behind
	@for f in molecule/*/molecule.yml; do s=$$(basename $$(dirname $$f)); molecule destroy -s $$s; done
