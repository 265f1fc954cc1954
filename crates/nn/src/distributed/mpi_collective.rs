//! `Mpi`: the `Collective` over MPI's world communicator (the `mpi` crate, rsmpi, over the
//! system MPI, e.g. Debian's OpenMPI). The local rank comes from the communicator of the
//! processes sharing this machine's memory (`MPI_COMM_TYPE_SHARED`). MPI's default error
//! handler aborts the whole job on a communication error, and `mpirun` ends every rank when one
//! dies, so a lost rank ends the job instead of hanging it.

use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

use crate::distributed::Collective;
use crate::error::{NnError, Result};

/// MPI's world.
pub struct Mpi {
    // Finalizes MPI when dropped, so it lives as long as the communicator.
    _universe: Universe,
    world: SimpleCommunicator,
    local_rank: usize,
}

impl Mpi {
    /// Initialises MPI (once per process).
    pub fn init() -> Result<Self> {
        let universe = mpi::initialize().ok_or_else(|| {
            NnError::Config("MPI is already initialised in this process: make one Mpi".into())
        })?;
        let world = universe.world();
        let local = world.split_shared(world.rank());
        Ok(Mpi {
            local_rank: local.rank() as usize,
            _universe: universe,
            world,
        })
    }
}

impl Collective for Mpi {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }
    fn world_size(&self) -> usize {
        self.world.size() as usize
    }
    fn local_rank(&self) -> usize {
        self.local_rank
    }
    fn all_reduce_sum_f32(&self, values: &mut [f32]) -> Result<()> {
        let send = values.to_vec();
        self.world
            .all_reduce_into(&send[..], values, SystemOperation::sum());
        Ok(())
    }
    fn all_reduce_sum_f64(&self, values: &mut [f64]) -> Result<()> {
        let send = values.to_vec();
        self.world
            .all_reduce_into(&send[..], values, SystemOperation::sum());
        Ok(())
    }
    fn broadcast_f32(&self, values: &mut [f32], root: usize) -> Result<()> {
        self.world
            .process_at_rank(root as i32)
            .broadcast_into(values);
        Ok(())
    }
}
