# The local VM lab (Vagrantfile, docs/vagrant.md). Not part of `make test`:
# under software emulation the real test takes longer than CI allows.
.PHONY: box box-preload box-clean test-vagrant vagrant-libvirtd

# Start virtlogd/virtlockd/libvirtd where no systemd does it.
vagrant-libvirtd: ## start libvirtd where no systemd does
	@scripts/vagrant-libvirtd.sh

# Debian 12 libvirt box from Debian packages only (no box registry).
box: vagrant-libvirtd ## build the offline Debian 12 Vagrant box
	@scripts/vagrant-box.sh

# The same with every package site.yml installs preloaded, and a local apt
# repository as its only source: for air-gapped labs and isolated networks.
box-preload: vagrant-libvirtd ## the box with every package preloaded (air-gapped labs)
	@LAB_BOX_PRELOAD=1 scripts/vagrant-box.sh

# Remove the local boxes, their files and their images in libvirt's pool.
box-clean: ## remove the local boxes
	-@for b in disgrafs-lab/debian-12 disgrafs-lab/debian-12-preload; do \
	    vagrant box remove --force --all "$$b" 2>/dev/null || true; done
	-@for v in $$(virsh -c qemu:///system vol-list default 2>/dev/null | awk '{print $$1}' | grep '^disgrafs-lab-VAGRANTSLASH-'); do \
	    virsh -c qemu:///system vol-delete --pool default "$$v"; done
	rm -rf build/vagrant/*.box

# vagrant up both VMs with site.yml, idempotence, testinfra checks, destroy.
test-vagrant: venv ## the VM lab's real test (LAB_TCG=1 under emulation: ~95 min)
	@scripts/test-vagrant.sh
